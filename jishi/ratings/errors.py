from jishi.core.errors import ErrorCode


class RatingError(ErrorCode):
    NOT_ALLOWED = "rating_not_allowed"  # the order is not finished, or the window has ended
    EXISTS = "rating_exists"  # the line (or the order's DSR) is rated already
    SCORE_INVALID = "rating_score_invalid"
    TEXT_REQUIRED = "rating_text_required"  # neutral and negative ratings need a reason
    DSR_INVALID = "dsr_invalid"
    CHANGE_NOT_ALLOWED = "rating_change_not_allowed"  # not neutral/negative, changed, or late
    REPLY_EXISTS = "rating_reply_exists"
    FOLLOWUP_NOT_ALLOWED = "rating_followup_not_allowed"
    IMAGES_LIMIT = "rating_images_limit"
    REVIEW_INVALID = "rating_review_invalid"  # not waiting for review / already voided
