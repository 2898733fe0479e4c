"""VAT on invoices: prices include VAT, split half-up once per line in minor units, in every
currency; the rule per buyer (home rate, buyer's country rate, reverse charge, outside the EU);
billing details validated against the VAT table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smplat.services import invoices
from smplat.services.money import vat_included

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("gross", "rate", "expected"),
    [
        pytest.param(1000, "21", (826, 174), id="NL 21%: 173.55 up to 174"),
        pytest.param(1203, "20", (1002, 201), id="a half (200.5) goes up, not to even"),
        pytest.param(9, "20", (7, 2), id="1.5 goes up to 2"),
        pytest.param(3, "20", (2, 1), id="0.5 goes up to 1"),
        pytest.param(1190, "19", (1000, 190), id="DE 19%: exact"),
        pytest.param(1000, "25.5", (797, 203), id="FI 25.5%: a decimal rate"),
        pytest.param(1, "27", (1, 0), id="one cent at 27% has no VAT"),
        pytest.param(500, "0", (500, 0), id="reverse charge: 0%"),
        pytest.param(1500, "10", (1364, 136), id="JPY has no decimals: 1,500 yen at 10%"),
        pytest.param(12345, "17", (10551, 1794), id="KWD has three decimals: 12.345 at 17%"),
        pytest.param(-1203, "20", (-1002, -201), id="a credit note rounds its half away from zero too"),
    ],
)
def test_vat_is_split_half_up_once_and_net_plus_vat_is_the_gross(gross, rate, expected) -> None:
    # when a VAT-inclusive price is split / then exactly these minor units, adding up to the gross
    net, vat = vat_included(gross, rate)
    assert (net, vat) == expected
    assert net + vat == gross


def test_vat_split_refuses_floats_and_negative_rates() -> None:
    with pytest.raises(TypeError):
        vat_included(10.5, "21")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        vat_included(100, "-1")


def test_lines_and_totals_are_priced_per_line_and_summed() -> None:
    # given two lines at 20% / when priced
    lines, totals = invoices.priced_lines([("Followers", 1, 1203), ("Likes", 2, 1000)], Decimal("20"))
    # then each line is split on its own and the totals are the sums of the lines
    assert [(x["net_minor"], x["vat_minor"], x["gross_minor"], x["vat_rate"]) for x in lines] == [
        (1002, 201, 1203, "20"),
        (833, 167, 1000, "20"),
    ]
    assert totals == {"net_minor": 1835, "vat_minor": 368, "gross_minor": 2203}


@pytest.mark.parametrize(
    ("currency", "amount", "text"),
    [
        ("EUR", 123456, "1,234.56 EUR"),
        ("JPY", 1364, "1,364 JPY"),
        ("KWD", 12345, "12.345 KWD"),
        ("EUR", -500, "-5.00 EUR"),
    ],
)
def test_pdf_amounts_use_the_currency_minor_units(currency, amount, text) -> None:
    assert invoices.amount_text(amount, currency) == text


@pytest.mark.parametrize(
    ("buyer", "rate", "reverse", "note"),
    [
        pytest.param(
            {"country": "DE", "vat_id": "DE123456789"},
            "0",
            True,
            "Reverse charge: VAT to be accounted for by the recipient",
            id="EU business abroad: reverse charge",
        ),
        pytest.param({"country": "DE", "vat_id": ""}, "19", False, "", id="EU consumer: their country's rate"),
        pytest.param(
            {"country": "EE", "vat_id": "EE102030405"},
            "24",
            False,
            "",
            id="business in the seller's country: home rate",
        ),
        pytest.param({"country": "FI", "vat_id": ""}, "25.5", False, "", id="decimal rate"),
        pytest.param(
            {"country": "US", "vat_id": ""},
            "0",
            False,
            "VAT not charged: service supplied to a customer outside the EU.",
            id="outside the EU",
        ),
        pytest.param({"country": "", "vat_id": ""}, "24", False, "", id="unknown country: the seller's rate"),
    ],
)
def test_vat_rule_per_buyer(buyer, rate, reverse, note) -> None:
    # given the seller in Estonia (the default settings) / when the rule for a buyer is asked
    treatment = invoices.vat_treatment(buyer)
    assert (invoices.rate_text(treatment.rate), treatment.reverse_charge, treatment.note) == (rate, reverse, note)


def test_billing_details_are_normalised() -> None:
    clean = invoices.validate_billing(
        {
            "name": " Ada Lovelace ",
            "company": "Engines GmbH",
            "address": "Hauptstr. 1\n10115 Berlin",
            "country": "de",
            "vat_id": "de 123.456-789",
        }
    )
    assert clean == {
        "name": "Ada Lovelace",
        "company": "Engines GmbH",
        "address": "Hauptstr. 1\n10115 Berlin",
        "country": "DE",
        "vat_id": "DE123456789",
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        pytest.param({"country": "DE", "vat_id": "DE12345"}, "vat_id", id="too short for Germany"),
        pytest.param({"country": "GR", "vat_id": "GR123456789"}, "vat_id", id="Greece's prefix is EL"),
        pytest.param({"country": "FR", "vat_id": "DE123456789"}, "vat_id", id="another country's number"),
        pytest.param({"country": "US", "vat_id": "US123"}, "vat_id", id="no VAT numbers in the US"),
        pytest.param({"country": "ZZ", "vat_id": ""}, "country", id="not in the VAT table"),
        pytest.param(
            {"country": "DE", "vat_id": "DE123456789", "company": ""}, "company", id="a VAT number needs a company"
        ),
        pytest.param({"country": "DE", "name": ""}, "name", id="name required"),
    ],
)
def test_bad_billing_details_name_the_field(values, field) -> None:
    form = {"name": "Ada", "company": "Engines", "address": "Street 1", **values}
    with pytest.raises(invoices.InvoiceError) as refused:
        invoices.validate_billing(form)
    assert field in refused.value.errors


def test_greek_and_other_valid_numbers_pass() -> None:
    for country, vat_id in (
        ("GR", "EL123456789"),
        ("FR", "FRXX123456789"),
        ("NL", "NL123456789B01"),
        ("AT", "ATU12345678"),
    ):
        form = {"name": "Ada", "company": "Engines", "address": "Street 1", "country": country, "vat_id": vat_id}
        assert invoices.validate_billing(form)["vat_id"] == vat_id
