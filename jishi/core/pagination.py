"""Paging with a cap, for pages (the API uses Ninja's LimitOffsetPagination, capped too)."""

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator

PAGE_SIZE_DEFAULT = 24
PAGE_NUMBER_MAX = 100  # deep pages are a crawler's habit, not a buyer's


def page_of(queryset, page_number: object, *, page_size: int = PAGE_SIZE_DEFAULT) -> Page:
    paginator = Paginator(queryset, page_size)
    try:
        number = min(int(page_number or 1), PAGE_NUMBER_MAX)
    except (TypeError, ValueError):
        number = 1
    try:
        return paginator.page(number)
    except (EmptyPage, PageNotAnInteger):
        return paginator.page(paginator.num_pages or 1)
