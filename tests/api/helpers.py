"""Helpers for the /api/v1 tests (plain functions; the fixtures are in conftest.py)."""

import io
import json
from typing import Any

from django.test import Client
from PIL import Image

API = "/api/v1"
PASSWORD = "Jishi2024pass"

ADDRESS = {
    "recipient": "张三",
    "phone": "13812345678",
    "province": "浙江省",
    "city": "湖州市",
    "district": "安吉县",
    "detail": "递铺街道茶园路 8 号",
    "postal_code": "313300",
}


class ApiClient:
    """A Django test Client speaking JSON to /api/v1, logged in as ``user`` (or anonymous)."""

    def __init__(self, user: Any = None, *, csrf: bool = False, token: str | None = None):
        self.user = user
        self.client = Client(enforce_csrf_checks=csrf)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        if user is not None:
            self.client.force_login(user)

    def _send(self, method: str, path: str, data: Any = None, **extra: Any):
        call = getattr(self.client, method)
        if data is None:
            return call(API + path, headers=self.headers, **extra)
        return call(
            API + path,
            data=json.dumps(data),
            content_type="application/json",
            headers=self.headers,
            **extra,
        )

    def get(self, path: str, params: dict | None = None):
        return self.client.get(API + path, params or {}, headers=self.headers)

    def post(self, path: str, data: Any = None):
        return self._send("post", path, data)

    def put(self, path: str, data: Any = None):
        return self._send("put", path, data)

    def patch(self, path: str, data: Any = None):
        return self._send("patch", path, data)

    def delete(self, path: str):
        return self._send("delete", path)

    def upload(self, path: str, files: dict[str, Any]):
        return self.client.post(API + path, files, headers=self.headers)


def png_bytes(size: tuple[int, int] = (8, 8), color: str = "red") -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    buf.seek(0)
    buf.name = "photo.png"
    return buf


def product_payload(category_id: int, **overrides: Any) -> dict[str, Any]:
    data = {
        "category_id": category_id,
        "title": "安吉白茶 明前特级",
        "subtitle": "核心产区 当季新茶",
        "description": "安吉溪龙乡茶园直发。",
        "brand": "溪龙",
        "attributes": [["产地", "浙江安吉"], ["净含量", "250g"]],
        "spec_names": ["规格"],
        "skus": [
            {"specs": {"规格": "250g"}, "price_fen": 12800, "stock": 10, "code": "BC-250"},
            {"specs": {"规格": "500g"}, "price_fen": 23800, "list_price_fen": 26800, "stock": 0},
        ],
    }
    data.update(overrides)
    return data


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"code", "message", "extra"}, body
    return body["code"]
