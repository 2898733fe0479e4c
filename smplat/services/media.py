"""Product pictures: upload checks, padded variants, gallery order, primary, labels and alt text.

Every upload is decoded by Pillow on the server before anything is stored: the real type must
be PNG, JPEG or WebP whatever the file is called, the file must fit `media_max_upload_bytes`,
the declared width x height must fit `media_max_pixels` (checked from the header, before the
pixels are decoded: decompression bombs), and the sha256 of the bytes must be new for the
product. The original is re-encoded without metadata (EXIF, GPS, comments) into
`settings.media_dir`, beside two variants padded (never cropped) to a fixed box: `card`
(storefront card and product page) and `thumb` (cart and admin thumbnails). Files are named
by checksum, so a retried upload rewrites the same bytes; the web app serves them at
`/media/<file>` (smplat/api/media.py).

Every save names the product version it started from (`catalog_drafts.claim_version`) and is
written to the audit log with before and after, in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.catalog import MediaUsage, ProductMedia
from smplat.services import audit
from smplat.services.audit import Actor
from smplat.services.catalog_drafts import claim_version
from smplat.services.catalog_drafts import get_product as _product
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import Permission
from smplat.settings import get_settings

MEDIA_URL_PREFIX = "/media"
# Pillow format -> (MIME type, file extension of the stored original)
ALLOWED_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
# Variant boxes (width, height). The card keeps the 4:3 ratio of the storefront artwork; the
# thumbnail is square. Pictures are scaled to fit inside and padded with transparency.
VARIANTS: dict[str, tuple[int, int]] = {"card": (640, 480), "thumb": (160, 160)}
MAX_FILES_PER_UPLOAD = 12
USAGE_LABELS: dict[str, str] = {
    MediaUsage.HERO.value: "Hero",
    MediaUsage.DETAIL.value: "Detail",
    MediaUsage.SOCIAL_PROOF.value: "Social proof",
}
AUDITED_FIELDS = ("url", "label", "alt_text", "usage_tags", "is_primary", "sort_order", "checksum")


@dataclass(frozen=True)
class CheckedImage:
    """An upload that passed every check, ready to store."""

    filename: str
    checksum: str
    content_type: str
    extension: str
    width: int
    height: int
    image: Image.Image


def _refuse(message: str, field: str = "files") -> ServiceError:
    return ServiceError(message, code=ErrorCode.INVALID, field=field)


def _human_bytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    return f"{size / 1024:.0f} KB"


def check_image(filename: str, data: bytes) -> CheckedImage:
    """Decode one upload and apply every rule; raise a ServiceError naming the file otherwise."""
    settings = get_settings()
    name = Path(filename or "image").name[:120] or "image"
    if not data:
        raise _refuse(f"{name} is empty.")
    if len(data) > settings.media_max_upload_bytes:
        raise _refuse(
            f"{name} is {_human_bytes(len(data))}; images may be at most "
            f"{_human_bytes(settings.media_max_upload_bytes)}."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = (image.format or "").upper()
            if fmt not in ALLOWED_FORMATS:
                raise _refuse(f"{name} is a {fmt or 'unknown'} file; upload a PNG, JPEG or WebP image.") from None
            width, height = image.size
            if width * height > settings.media_max_pixels:
                raise _refuse(
                    f"{name} is {width:,} × {height:,} pixels; images may have at most "
                    f"{settings.media_max_pixels:,} pixels."
                )
            image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except ServiceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(
            f"{name} has too many pixels; images may have at most {settings.media_max_pixels:,} pixels."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _refuse(f"{name} is not an image we can read; upload a PNG, JPEG or WebP image.") from None
    content_type, extension = ALLOWED_FORMATS[fmt]
    # Honour the camera's orientation before the EXIF that carries it is dropped.
    image = ImageOps.exif_transpose(image)
    return CheckedImage(
        filename=name,
        checksum=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
        extension=extension,
        width=image.width,
        height=image.height,
        image=image,
    )


def padded(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """`image` scaled to fit inside `box` (aspect kept, nothing cut off), centred on a
    transparent canvas of exactly `box`."""
    fitted = ImageOps.contain(image.convert("RGBA"), box, method=Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", box, (0, 0, 0, 0))
    canvas.paste(fitted, ((box[0] - fitted.width) // 2, (box[1] - fitted.height) // 2))
    return canvas


def _clean_original(checked: CheckedImage) -> bytes:
    """The picture re-encoded in its own format from pixels only: no EXIF, XMP, ICC or text."""
    image = checked.image
    out = io.BytesIO()
    if checked.extension == "jpg":
        image.convert("RGB").save(out, format="JPEG", quality=90, optimize=True)
    elif checked.extension == "png":
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, format="PNG", optimize=True)
    else:
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(out, format="WEBP", quality=90)
    return out.getvalue()


def media_dir() -> Path:
    path = Path(get_settings().media_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(name: str, data: bytes) -> None:
    target = media_dir() / name
    if target.exists() and target.stat().st_size == len(data):
        return
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(target)


def _store_files(checked: CheckedImage) -> dict[str, Any]:
    """Write the clean original and its variants; return the columns that point at them."""
    original = _clean_original(checked)
    stem = checked.checksum
    _write(f"{stem}.{checked.extension}", original)
    urls: dict[str, str] = {}
    for variant, box in VARIANTS.items():
        out = io.BytesIO()
        padded(checked.image, box).save(out, format="WEBP", quality=85, method=4)
        _write(f"{stem}-{variant}.webp", out.getvalue())
        urls[variant] = f"{MEDIA_URL_PREFIX}/{stem}-{variant}.webp"
    return {
        "url": f"{MEDIA_URL_PREFIX}/{stem}.{checked.extension}",
        "card_url": urls["card"],
        "thumb_url": urls["thumb"],
        "content_type": checked.content_type,
        "width": checked.width,
        "height": checked.height,
        "byte_size": len(original),
    }


# --- reading ------------------------------------------------------------------------------------


def card_url(media: ProductMedia) -> str:
    """What a storefront card or product page shows: the padded card variant, else the original."""
    return media.card_url or media.url


def thumb_url(media: ProductMedia) -> str:
    return media.thumb_url or media.card_url or media.url


def list_media(session: Session, product_id: int) -> list[ProductMedia]:
    return list(
        session.execute(
            select(ProductMedia)
            .where(ProductMedia.product_id == product_id)
            .order_by(ProductMedia.sort_order, ProductMedia.id)
        )
        .scalars()
        .all()
    )


def gallery_rows(session: Session, product_id: int) -> list[dict[str, Any]]:
    """The admin gallery, in display order (one query)."""
    rows = list_media(session, product_id)
    return [
        {
            "id": m.id,
            "url": m.url,
            "thumb": thumb_url(m),
            "card": card_url(m),
            "label": m.label,
            "alt_text": m.alt_text,
            "usage_tags": list(m.usage_tags or []),
            "usage": ", ".join(USAGE_LABELS.get(t, t) for t in (m.usage_tags or [])),
            "is_primary": bool(m.is_primary),
            "size": f"{m.width} × {m.height}" if m.width else "",
            "bytes": _human_bytes(m.byte_size) if m.byte_size else "",
            "position": index + 1,
            "is_first": index == 0,
            "is_last": index == len(rows) - 1,
        }
        for index, m in enumerate(rows)
    ]


def missing_alt_text(session: Session, product_id: int) -> list[ProductMedia]:
    """Pictures of the product without alt text, in gallery order: publishing refuses while
    any is left (screen readers and search engines read it)."""
    return [m for m in list_media(session, product_id) if not (m.alt_text or "").strip()]


# --- saving -------------------------------------------------------------------------------------


def _start(session: Session, actor: Actor, action: str, product_id: int, expected_version: int) -> int:
    audit.require(actor, Permission.EDIT_CATALOG, action, "product", product_id)
    _product(session, product_id)
    return claim_version(session, product_id, expected_version)


def upload(
    session: Session,
    actor: Actor,
    product_id: int,
    expected_version: int,
    files: Sequence[tuple[str, bytes]],
) -> tuple[int, list[ProductMedia]]:
    """Add several pictures at once; return the new product version and the new rows.

    Every file is checked before anything is stored: one refused file refuses the batch with
    a message naming each problem, and nothing is written. The first picture of a product
    without one becomes its primary."""
    audit.require(actor, Permission.EDIT_CATALOG, "product.media.upload", "product", product_id)
    if not files:
        raise _refuse("Choose at least one image to upload.")
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise _refuse(f"Upload at most {MAX_FILES_PER_UPLOAD} images at a time.")
    _product(session, product_id)
    existing = {m.checksum: m for m in list_media(session, product_id) if m.checksum}
    problems: list[str] = []
    checked: list[CheckedImage] = []
    seen: dict[str, str] = {}
    for filename, data in files:
        try:
            image = check_image(filename, data)
        except ServiceError as exc:
            problems.append(exc.message)
            continue
        if image.checksum in existing:
            problems.append(
                f"{image.filename} is already in this gallery"
                + (f" ({existing[image.checksum].label})." if existing[image.checksum].label else ".")
            )
        elif image.checksum in seen:
            problems.append(f"{image.filename} is the same image as {seen[image.checksum]}.")
        else:
            seen[image.checksum] = image.filename
            checked.append(image)
    if problems:
        raise ServiceError(" ".join(problems) + " Nothing was uploaded.", code=ErrorCode.INVALID, field="files")
    version = claim_version(session, product_id, expected_version)
    next_order = session.execute(
        select(func.max(ProductMedia.sort_order)).where(ProductMedia.product_id == product_id)
    ).scalar_one_or_none()
    next_order = -1 if next_order is None else int(next_order)
    has_primary = any(m.is_primary for m in existing.values()) or bool(
        session.execute(
            select(func.count())
            .select_from(ProductMedia)
            .where(ProductMedia.product_id == product_id, ProductMedia.is_primary.is_(True))
        ).scalar_one()
    )
    created: list[ProductMedia] = []
    for image in checked:
        next_order += 1
        stem = Path(image.filename).stem.replace("_", " ").replace("-", " ").strip()[:120]
        row = ProductMedia(
            product_id=product_id,
            label=stem,
            alt_text="",
            usage_tags=[MediaUsage.DETAIL.value],
            is_primary=not has_primary,
            sort_order=next_order,
            checksum=image.checksum,
            **_store_files(image),
        )
        has_primary = True
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "product.media.upload",
            "product_media",
            row.id,
            before=None,
            after=audit.snapshot(row, AUDITED_FIELDS),
            data={"product_id": product_id, "filename": image.filename, "version": version},
        )
        created.append(row)
    return version, created


def _media(session: Session, product_id: int, media_id: int) -> ProductMedia:
    row = session.get(ProductMedia, media_id)
    if row is None or row.product_id != product_id:
        raise ServiceError("This image is no longer in the gallery.", code=ErrorCode.NOT_FOUND)
    return row


def clean_usage_tags(tags: Sequence[str]) -> list[str]:
    allowed = [u.value for u in MediaUsage]
    unknown = [t for t in tags if t not in allowed]
    if unknown:
        raise _refuse(f"Unknown usage {', '.join(unknown)}; choose hero, detail or social proof.", "usage_tags")
    return [u for u in allowed if u in tags]


def update_details(
    session: Session,
    actor: Actor,
    product_id: int,
    expected_version: int,
    media_id: int,
    *,
    label: str,
    alt_text: str,
    usage_tags: Sequence[str],
) -> int:
    """Save one picture's label, alt text and usage tags; return the new product version."""
    label = (label or "").strip()
    alt_text = " ".join((alt_text or "").split())
    if len(label) > 120:
        raise _refuse("Keep the label under 120 characters.", "label")
    if len(alt_text) > 300:
        raise _refuse("Keep the alt text under 300 characters.", "alt_text")
    tags = clean_usage_tags(usage_tags)
    version = _start(session, actor, "product.media.update", product_id, expected_version)
    row = _media(session, product_id, media_id)
    before = audit.snapshot(row, AUDITED_FIELDS)
    row.label, row.alt_text, row.usage_tags = label, alt_text, tags
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "product.media.update",
        "product_media",
        row.id,
        before=before,
        after=audit.snapshot(row, AUDITED_FIELDS),
        data={"product_id": product_id, "version": version},
    )
    return version


def set_primary(session: Session, actor: Actor, product_id: int, expected_version: int, media_id: int) -> int:
    """Make one picture the product's primary (the card and the default social image)."""
    version = _start(session, actor, "product.media.primary", product_id, expected_version)
    target = _media(session, product_id, media_id)
    rows = list_media(session, product_id)
    before = {str(m.id): m.is_primary for m in rows}
    for m in rows:
        m.is_primary = m.id == target.id
        session.add(m)
    session.flush()
    audit.record(
        session,
        actor,
        "product.media.primary",
        "product",
        product_id,
        before={"primary_media_id": next((int(k) for k, v in before.items() if v), None)},
        after={"primary_media_id": target.id},
        data={"version": version},
    )
    return version


def reorder(session: Session, actor: Actor, product_id: int, expected_version: int, ordered_ids: Sequence[int]) -> int:
    """Put the gallery in `ordered_ids` order (every picture of the product, each once)."""
    version = _start(session, actor, "product.media.reorder", product_id, expected_version)
    rows = list_media(session, product_id)
    by_id = {m.id: m for m in rows}
    wanted = [int(i) for i in ordered_ids]
    if sorted(wanted) != sorted(by_id):
        raise ServiceError(
            "The gallery changed while you were ordering it; reload and try again.",
            code=ErrorCode.CONFLICT,
            field="order",
        )
    before = [m.id for m in rows]
    for position, media_id in enumerate(wanted):
        by_id[media_id].sort_order = position
        session.add(by_id[media_id])
    session.flush()
    audit.record(
        session,
        actor,
        "product.media.reorder",
        "product",
        product_id,
        before={"order": before},
        after={"order": wanted},
        data={"version": version},
    )
    return version


def move(session: Session, actor: Actor, product_id: int, expected_version: int, media_id: int, step: int) -> int:
    """Move one picture one place earlier (step -1) or later (+1)."""
    ids = [m.id for m in list_media(session, product_id)]
    if media_id not in ids:
        raise ServiceError("This image is no longer in the gallery.", code=ErrorCode.NOT_FOUND)
    i = ids.index(media_id)
    j = max(0, min(len(ids) - 1, i + (1 if step > 0 else -1)))
    ids[i], ids[j] = ids[j], ids[i]
    return reorder(session, actor, product_id, expected_version, ids)


def remove(session: Session, actor: Actor, product_id: int, expected_version: int, media_id: int) -> int:
    """Take a picture out of the gallery. When it was the primary, the first remaining one
    becomes primary. The files stay: they are named by checksum and may be shared by a draft
    and its published product (or an order snapshot's link), so removing a row never breaks
    another page."""
    version = _start(session, actor, "product.media.remove", product_id, expected_version)
    row = _media(session, product_id, media_id)
    before = audit.snapshot(row, AUDITED_FIELDS)
    was_primary = row.is_primary
    session.delete(row)
    session.flush()
    if was_primary:
        rest = list_media(session, product_id)
        if rest:
            rest[0].is_primary = True
            session.add(rest[0])
            session.flush()
    audit.record(
        session,
        actor,
        "product.media.remove",
        "product_media",
        media_id,
        before=before,
        after=None,
        data={"product_id": product_id, "version": version},
    )
    return version
