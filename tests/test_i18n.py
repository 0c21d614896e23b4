"""The translation catalogs are complete and compiled, and pages and API errors follow the
user's language: Chinese (zh-hans) by default, English on request.

When a test here fails after new strings were added: run ``jishi makemessages -l zh_Hans``
in ``jishi/``, translate the new entries, then ``jishi compilemessages -l zh_Hans``.
"""

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE_DIR = Path(__file__).resolve().parent.parent / "jishi" / "locale"
PO_FILES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
PO_IDS = [str(p.relative_to(LOCALE_DIR)) for p in PO_FILES]
ZH_PO_FILES = [p for p in PO_FILES if p.parts[-3].startswith("zh")]

# %(name)s, %(n)d, %s, %% ... as Python's %-formatting reads them.
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifrx%]")
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def _msgstrs(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def _pairs(catalog) -> set[tuple]:
    """(context, msgid, plural msgid, translations) for every entry of a catalog."""
    return {
        (e.msgctxt, e.msgid, e.msgid_plural, tuple(_msgstrs(e)))
        for e in catalog
        if e.msgid  # the header
    }


def test_there_is_a_chinese_catalog():
    assert LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po" in PO_FILES


@pytest.mark.parametrize("po_path", PO_FILES, ids=PO_IDS)
def test_catalog_header(po_path):
    po = polib.pofile(str(po_path))
    assert po.metadata["Content-Type"] == "text/plain; charset=UTF-8"
    assert po.metadata["Language"] == po_path.parts[-3]
    if po_path.parts[-3].startswith("zh"):
        assert po.metadata["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert not po.metadata_is_fuzzy


@pytest.mark.parametrize("po_path", PO_FILES, ids=PO_IDS)
def test_every_entry_is_translated_and_not_fuzzy(po_path):
    po = polib.pofile(str(po_path))
    untranslated = [e.msgid for e in po.untranslated_entries() if not e.obsolete]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    empty_plural = [
        e.msgid for e in po if e.msgid_plural and not all(s.strip() for s in _msgstrs(e))
    ]
    assert untranslated == [], f"{len(untranslated)} untranslated: {untranslated[:10]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy: {fuzzy[:10]}"
    assert empty_plural == []


@pytest.mark.parametrize("po_path", PO_FILES, ids=PO_IDS)
def test_translations_keep_placeholders_tags_and_edges(po_path):
    problems = []
    for entry in polib.pofile(str(po_path)):
        if entry.obsolete or not entry.msgid:
            continue
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        for msgstr in _msgstrs(entry):
            # Every placeholder of the singular (or, for plurals, of either form) stays.
            wanted = {tuple(_placeholders(s)) for s in sources}
            if "python-format" in entry.flags and tuple(_placeholders(msgstr)) not in wanted:
                problems.append(("placeholders", entry.msgid, msgstr))
            named_src = set(re.findall(r"%\((\w+)\)", entry.msgid))
            named_dst = set(re.findall(r"%\((\w+)\)", msgstr))
            if named_src != named_dst:
                problems.append(("named placeholders", entry.msgid, msgstr))
            if sorted(HTML_TAG.findall(entry.msgid)) != sorted(HTML_TAG.findall(msgstr)):
                problems.append(("html tags", entry.msgid, msgstr))
            for edge in ("\n",):
                if entry.msgid.startswith(edge) != msgstr.startswith(edge):
                    problems.append(("leading newline", entry.msgid, msgstr))
                if entry.msgid.endswith(edge) != msgstr.endswith(edge):
                    problems.append(("trailing newline", entry.msgid, msgstr))
    assert problems == []


@pytest.mark.parametrize("po_path", ZH_PO_FILES, ids=[p.parts[-3] for p in ZH_PO_FILES])
def test_chinese_catalog_is_chinese(po_path):
    """A pasted-back English string is a missed translation (short codes like "SKU" aside)."""
    allowed_latin = {"SKU"}
    latin_only = [
        e.msgid
        for e in polib.pofile(str(po_path))
        if e.msgid
        and not HAN.search(" ".join(_msgstrs(e)))
        and " ".join(_msgstrs(e)) not in allowed_latin
    ]
    assert latin_only == []


@pytest.mark.parametrize("po_path", PO_FILES, ids=PO_IDS)
def test_committed_mo_matches_po(po_path, tmp_path):
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run jishi compilemessages"
    fresh = tmp_path / "fresh.mo"
    polib.pofile(str(po_path)).save_as_mofile(str(fresh))
    expected, committed = _pairs(polib.mofile(str(fresh))), _pairs(polib.mofile(str(mo_path)))
    missing, stale = expected - committed, committed - expected
    assert not missing and not stale, (
        f"{mo_path.name} is out of date (run jishi compilemessages): "
        f"{sorted(missing)[:5]} missing, {sorted(stale)[:5]} stale"
    )


# --- pages and API errors follow the user's language -----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/account/login/"])
def test_pages_are_chinese_by_default(client, url):
    page = client.get(url).content.decode()
    assert "登录" in page
    assert "Log in" not in page
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "登录" in page
    # A language the marketplace does not offer falls back to Chinese.
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "登录" in page


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/account/login/"])
def test_pages_are_english_on_request(client, url):
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Log in" in page
    assert "登录" not in page

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(url).content.decode()
    assert "Log in" in page
    assert "登录" not in page


@pytest.mark.django_db
def test_language_switch_sets_english_then_chinese(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Log in" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "登录" in client.get("/").content.decode()


@pytest.mark.django_db
def test_api_error_message_is_chinese_by_default(client, make_user):
    user = make_user()
    response = client.post(
        "/api/v1/accounts/register",
        {"username": user.username, "password": "Tea2024good"},
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "username_taken"
    assert HAN.search(body["message"]), body
    assert body["message"] == "该用户名已被注册。"


@pytest.mark.django_db
def test_api_error_message_is_english_on_request(client, make_user):
    user = make_user()
    response = client.post(
        "/api/v1/accounts/register",
        {"username": user.username, "password": "Tea2024good"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "username_taken"
    assert body["message"] == "This username is taken."
