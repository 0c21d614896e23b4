"""Uploaded images are checked by decoding them, never by trusting the file name."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from jishi.core.errors import field_error

IMAGE_BYTES_MAX = 5 * 1024 * 1024
IMAGE_SIDE_PX_MAX = 6000
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


def image_check(upload: Any, *, field: str = "image") -> str:
    """Return the file extension for a valid upload; raise a field error otherwise."""
    if upload.size > IMAGE_BYTES_MAX:
        raise field_error(field, _("An image may be at most 5 MB."), "image_too_large")
    try:
        upload.seek(0)
        with Image.open(upload) as img:
            fmt = img.format
            width, height = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise field_error(
            field, _("This file is not an image we accept (JPEG, PNG, WebP, GIF)."), "image_invalid"
        ) from exc
    finally:
        upload.seek(0)
    if fmt not in IMAGE_FORMATS:
        raise field_error(
            field, _("This file is not an image we accept (JPEG, PNG, WebP, GIF)."), "image_invalid"
        )
    if max(width, height) > IMAGE_SIDE_PX_MAX:
        raise field_error(
            field, _("The image is too large (at most 6000 pixels a side)."), "image_too_large"
        )
    return IMAGE_FORMATS[fmt]
