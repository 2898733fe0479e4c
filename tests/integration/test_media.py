"""Product media gallery: upload checks done by decoding (Pillow), padded variants, EXIF
stripped, duplicates refused, order and primary, audit and version, on both databases."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import reflex as rx
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import Session
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.carts import CartItem
from smplat.models.catalog import Category, Product, ProductMedia
from smplat.services import catalog, media
from smplat.services.audit import Actor
from smplat.services.carts import PricedLine
from smplat.services.catalog_drafts import StaleEdit
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import PermissionDenied
from smplat.settings import reset_settings_cache
from smplat.ui.pages.admin.product_media import MediaEditorState

pytestmark = pytest.mark.integration

OPERATOR = Actor.staff(None, "ops@media.test", "operator", "198.51.100.7")
CUSTOMER = Actor.staff(None, "eve@media.test", "customer", "198.51.100.8")
EXIF_ARTIST = 0x013B  # the EXIF "Artist" tag
EXIF_GPS = 0x8825


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 90), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour if mode != "1" else 1).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 300, height: int = 200) -> bytes:
    image = Image.new("RGB", (width, height), (20, 120, 220))
    exif = Image.Exif()
    exif[EXIF_ARTIST] = "Ana Photographer, Lisbon"
    exif[0x010F] = "PhoneMaker"  # Make
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def media_dir(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "media"
    monkeypatch.setenv("SMPLAT_MEDIA_DIR", str(folder))
    reset_settings_cache()
    yield folder
    reset_settings_cache()


@pytest.fixture
def product_id(session: Session, media_dir: Path) -> int:
    category = Category(slug="instagram", name="Instagram")
    session.add(category)
    session.flush()
    product = Product(category_id=category.id, slug="ig-followers", title="Instagram Followers", status="active")
    session.add(product)
    session.commit()
    return int(product.id)


def _version(session: Session, product_id: int) -> int:
    session.expire_all()
    return session.execute(select(Product.version).where(Product.id == product_id)).scalar_one()


def _media_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ProductMedia)).scalar_one()


def _audit_actions(session: Session) -> list[str]:
    return list(session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def _upload(session: Session, product_id: int, files, version: int | None = None):
    version = _version(session, product_id) if version is None else version
    result = media.upload(session, OPERATOR, product_id, version, files)
    session.commit()
    return result


def test_two_images_at_once_get_rows_files_padded_variants_and_an_audit_row_each(
    session: Session, product_id: int, media_dir: Path
) -> None:
    wide, tall = png(1600, 400), png(300, 900, (10, 160, 60))

    version, rows = _upload(session, product_id, [("banner.png", wide), ("portrait_shot.png", tall)])

    assert version == 2 == _version(session, product_id)
    assert [(r.label, r.width, r.height, r.content_type, r.sort_order, r.is_primary) for r in rows] == [
        ("banner", 1600, 400, "image/png", 0, True),
        ("portrait shot", 300, 900, "image/png", 1, False),
    ]
    for row in rows:
        assert row.url == f"/media/{row.checksum}.png"
        assert (media_dir / Path(row.url).name).stat().st_size == row.byte_size
        card = Image.open(media_dir / Path(row.card_url).name)
        thumb = Image.open(media_dir / Path(row.thumb_url).name)
        assert (card.format, card.size, thumb.size) == ("WEBP", (640, 480), (160, 160))
    # the wide banner is scaled to 640 x 160 and padded above and below, never cropped
    card = Image.open(media_dir / Path(rows[0].card_url).name).convert("RGBA")
    assert card.getpixel((320, 10))[3] == 0  # padding: transparent
    assert card.getpixel((320, 240))[:3] == pytest.approx((200, 30, 90), abs=6)
    assert card.getpixel((2, 240))[3] == 255  # full width: the sides are kept
    # the tall portrait becomes 160 x 480 in the card: its top and bottom are kept
    tall_card = Image.open(media_dir / Path(rows[1].card_url).name).convert("RGBA")
    assert tall_card.getpixel((320, 2))[3] == 255 and tall_card.getpixel((320, 477))[3] == 255
    assert tall_card.getpixel((100, 240))[3] == 0
    assert _audit_actions(session) == ["product.media.upload", "product.media.upload"]


def test_exif_is_stripped_from_the_stored_original_and_the_variants(
    session: Session, product_id: int, media_dir: Path
) -> None:
    original = jpeg_with_exif()
    assert Image.open(io.BytesIO(original)).getexif()[EXIF_ARTIST] == "Ana Photographer, Lisbon"

    _, (row,) = _upload(session, product_id, [("holiday.jpg", original)])

    stored = media_dir / Path(row.url).name
    assert row.url.endswith(".jpg") and row.content_type == "image/jpeg"
    assert dict(Image.open(stored).getexif()) == {}
    assert b"Ana Photographer" not in stored.read_bytes()
    for variant in (row.card_url, row.thumb_url):
        assert b"Ana Photographer" not in (media_dir / Path(variant).name).read_bytes()


def _refused(session: Session, product_id: int, files, media_dir: Path) -> ServiceError:
    version = _version(session, product_id)
    audits = _audit_actions(session)
    with pytest.raises(ServiceError) as refused:
        media.upload(session, OPERATOR, product_id, version, files)
    session.rollback()
    # bad input changes nothing: no row, no version bump, no audit row, no file
    assert _version(session, product_id) == version
    assert _audit_actions(session) == audits
    assert refused.value.code is ErrorCode.INVALID and refused.value.field == "files"
    return refused.value


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


@pytest.mark.parametrize(
    ("case", "filename", "data", "message"),
    [
        ("text named .png", "logo.png", b"hello, I am only text pretending to be a picture\n", "is not an image"),
        ("program named .png", "setup.png", EXE, "is not an image"),
        ("gif named .png", "anim.png", None, "is a GIF file"),
        ("truncated png", "half.png", None, "is not an image"),
        ("empty file", "empty.png", b"", "is empty"),
    ],
)
def test_files_that_are_not_png_jpeg_or_webp_are_refused_whatever_their_name(
    session: Session, product_id: int, media_dir: Path, case: str, filename: str, data: bytes | None, message: str
) -> None:
    if case == "gif named .png":
        out = io.BytesIO()
        Image.new("RGB", (40, 40), (1, 2, 3)).save(out, format="GIF")
        data = out.getvalue()
    if case == "truncated png":
        data = png(400, 300, (9, 9, 9))
        image = Image.new("RGB", (400, 300))
        image.putdata([(i % 251, (i * 7) % 253, (i * 13) % 255) for i in range(400 * 300)])
        out = io.BytesIO()
        image.save(out, format="PNG")
        data = out.getvalue()[: len(out.getvalue()) // 2]

    error = _refused(session, product_id, [(filename, data)], media_dir)

    assert message in error.message and filename in error.message and "Nothing was uploaded" in error.message
    assert _media_count(session) == 0
    assert not media_dir.exists() or list(media_dir.iterdir()) == []


def test_too_large_a_file_is_refused_before_decoding(
    session: Session, product_id: int, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMPLAT_MEDIA_MAX_UPLOAD_BYTES", str(50 * 1024))
    reset_settings_cache()
    noisy = Image.effect_noise((400, 400), 120).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    assert len(out.getvalue()) > 50 * 1024

    error = _refused(session, product_id, [("noise.png", out.getvalue())], media_dir)

    assert "noise.png is" in error.message and "images may be at most 50 KB" in error.message
    assert _media_count(session) == 0


def test_too_many_pixels_is_refused_from_the_header(session: Session, product_id: int, media_dir: Path) -> None:
    # 6,000 x 5,000 = 30 M pixels of one colour: a few KB on disk, 120 MB once decoded as RGBA
    bomb = png(6000, 5000, mode="1")
    assert len(bomb) < 100_000

    error = _refused(session, product_id, [("bomb.png", bomb)], media_dir)

    assert "6,000 × 5,000 pixels" in error.message and "at most 25,000,000 pixels" in error.message
    assert _media_count(session) == 0


def test_a_duplicate_is_refused_in_the_same_batch_and_against_the_gallery(
    session: Session, product_id: int, media_dir: Path
) -> None:
    picture = png(200, 200)
    _upload(session, product_id, [("first.png", picture)])
    rows_before = _media_count(session)

    again = _refused(session, product_id, [("again.png", picture), ("new.png", png(10, 10, (0, 0, 255)))], media_dir)
    twice = _refused(
        session, product_id, [("a.png", png(50, 50, (1, 1, 1))), ("b.png", png(50, 50, (1, 1, 1)))], media_dir
    )

    assert "again.png is already in this gallery (first)." in again.message
    assert "b.png is the same image as a.png." in twice.message
    assert _media_count(session) == rows_before == 1


def test_the_same_picture_may_be_used_by_another_product(session: Session, product_id: int) -> None:
    picture = png(120, 90)
    _upload(session, product_id, [("hero.png", picture)])
    other = Product(category_id=session.get(Product, product_id).category_id, slug="ig-likes", title="Likes")
    session.add(other)
    session.commit()

    _, (row,) = _upload(session, other.id, [("hero.png", picture)])

    assert row.product_id == other.id and row.is_primary


def test_reorder_primary_details_and_remove_each_bump_the_version_and_are_audited(
    session: Session, product_id: int
) -> None:
    _, rows = _upload(session, product_id, [(f"p{i}.png", png(60 + i, 40, (i * 40, 10, 10))) for i in range(3)])
    a, b, c = (r.id for r in rows)

    version = media.reorder(session, OPERATOR, product_id, _version(session, product_id), [c, a, b])
    session.commit()
    version = media.set_primary(session, OPERATOR, product_id, version, b)
    session.commit()
    version = media.update_details(
        session,
        OPERATOR,
        product_id,
        version,
        c,
        label="Hero",
        alt_text="  Phone showing   a profile ",
        usage_tags=["social_proof", "hero"],
    )
    session.commit()

    assert version == 5 == _version(session, product_id)
    gallery = media.gallery_rows(session, product_id)
    assert [(g["id"], g["is_primary"], g["position"]) for g in gallery] == [(c, False, 1), (a, False, 2), (b, True, 3)]
    assert (gallery[0]["label"], gallery[0]["alt_text"], gallery[0]["usage_tags"]) == (
        "Hero",
        "Phone showing a profile",
        ["hero", "social_proof"],
    )
    # the storefront card uses the primary picture's padded card variant
    assert catalog.primary_images(session, [product_id]) == {product_id: session.get(ProductMedia, b).card_url}
    detail = catalog.get_product_detail(session, "ig-followers")
    assert [m.id for m in detail.media] == [b, c, a]

    version = media.move(session, OPERATOR, product_id, version, a, -1)
    session.commit()
    version = media.remove(session, OPERATOR, product_id, version, b)
    session.commit()

    gallery = media.gallery_rows(session, product_id)
    assert [(g["id"], g["is_primary"]) for g in gallery] == [(a, True), (c, False)]
    log = session.execute(select(AuditLog).order_by(AuditLog.id)).scalars().all()
    assert [row.action for row in log] == [
        *["product.media.upload"] * 3,
        "product.media.reorder",
        "product.media.primary",
        "product.media.update",
        "product.media.reorder",
        "product.media.remove",
    ]
    assert log[3].data["before"] == {"order": [a, b, c]} and log[3].data["after"] == {"order": [c, a, b]}
    assert log[4].data["after"] == {"primary_media_id": b} and log[4].data["before"] == {"primary_media_id": a}
    assert log[5].data["after"]["alt_text"] == "Phone showing a profile" and log[5].data["before"]["alt_text"] == ""
    assert [m.id for m in media.missing_alt_text(session, product_id)] == [a]


def test_a_stale_save_and_a_customer_are_refused_and_change_nothing(session: Session, product_id: int) -> None:
    _, (row,) = _upload(session, product_id, [("p.png", png(30, 30))])

    with pytest.raises(StaleEdit):
        media.update_details(session, OPERATOR, product_id, 1, row.id, label="x", alt_text="y", usage_tags=[])
    session.rollback()
    with pytest.raises(PermissionDenied):
        media.set_primary(session, CUSTOMER, product_id, _version(session, product_id), row.id)
    session.rollback()
    with pytest.raises(ServiceError) as unknown_usage:
        media.update_details(
            session,
            OPERATOR,
            product_id,
            _version(session, product_id),
            row.id,
            label="x",
            alt_text="",
            usage_tags=["banner"],
        )
    session.rollback()

    assert unknown_usage.value.field == "usage_tags"
    session.expire_all()
    assert (session.get(ProductMedia, row.id).label, _version(session, product_id)) == ("p", 2)
    assert _audit_actions(session) == ["product.media.upload", "permission.denied"]


def test_media_files_are_served_with_their_type_and_nothing_else_is(
    session: Session, product_id: int, media_dir: Path
) -> None:
    _, (row,) = _upload(session, product_id, [("p.png", png(64, 48))])
    client = TestClient(build_api())

    original, card = client.get(row.url), client.get(row.card_url)

    assert (original.status_code, original.headers["content-type"]) == (200, "image/png")
    assert Image.open(io.BytesIO(card.content)).size == (640, 480)
    assert card.headers["content-type"] == "image/webp" and "immutable" in card.headers["cache-control"]
    assert client.get("/media/..%2F..%2Fsmplat.db").status_code == 404
    assert client.get("/media/" + "0" * 64 + ".png").status_code == 404


def test_cart_lines_show_the_thumbnail_variant_of_the_primary_picture(session: Session, product_id: int) -> None:
    _, (first, second) = _upload(session, product_id, [("a.png", png(400, 300)), ("b.png", png(300, 400, (0, 9, 9)))])
    media.set_primary(session, OPERATOR, product_id, _version(session, product_id), second.id)
    session.commit()
    detail = catalog.get_product_detail(session, "ig-followers")

    row = PricedLine(item=CartItem(id=1, cart_id=1, product_id=product_id, quantity=1), detail=detail, quote=None).row()

    assert row["image"] == second.thumb_url != first.thumb_url
    assert second.thumb_url.endswith("-thumb.webp")


async def test_the_media_page_uploads_saves_and_shows_a_stale_save_kindly(
    session: Session, product_id: int, root_state, session_cookie_for
) -> None:
    # a product not published yet is edited in place (a published one's tab moves to its draft)
    session.execute(Product.__table__.update().values(status="draft"))
    session.commit()
    state = await root_state(
        MediaEditorState,
        "/admin/products/[product_id]/media",
        params={"product_id": str(product_id)},
        cookie=session_cookie_for(Role.OPERATOR),
    )
    state.load_media()
    files = [
        rx.UploadFile(file=io.BytesIO(png(800, 600)), path=Path("hero.png")),
        rx.UploadFile(file=io.BytesIO(png(500, 500, (0, 0, 0))), path=Path("proof.png")),
    ]

    await state.handle_upload(files)
    uploaded = [(r["label"], r["is_primary"], r["alt_text"]) for r in state.rows]
    state.save_details(
        {"media_id": str(state.rows[1]["id"]), "label": "Proof", "alt_text": "A review", "usage_social_proof": "on"}
    )
    saved = (state.notice, state.rows[1]["usage_tags"], state.version)
    await state.handle_upload([rx.UploadFile(file=io.BytesIO(b"not a picture"), path=Path("fake.png"))])
    refused = state.error
    session.execute(Product.__table__.update().values(version=Product.version + 1))  # another operator saved
    session.commit()
    state.make_primary(state.rows[1]["id"])

    assert (state.loaded, state.found, state.product_title) == (True, True, "Instagram Followers")
    assert uploaded == [("hero", True, ""), ("proof", False, "")]
    assert saved == ("Saved the image details.", ["social_proof"], 3)
    assert refused == "fake.png is not an image we can read; upload a PNG, JPEG or WebP image. Nothing was uploaded."
    assert state.error.startswith("Someone else saved this product after you opened it (now at version 4")
    assert [r["is_primary"] for r in state.rows] == [True, False] and _media_count(session) == 2
