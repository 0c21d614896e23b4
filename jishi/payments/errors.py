from jishi.core.errors import ErrorCode


class PaymentError(ErrorCode):
    CHANNEL_UNKNOWN = "channel_unknown"
    SIGNATURE_INVALID = "callback_signature_invalid"
    CALLBACK_INVALID = "callback_invalid"
    AMOUNT_INVALID = "amount_invalid"
    NO_BANK_CARD = "no_bank_card"
    WITHDRAW_MINIMUM = "withdraw_minimum"
    DEPOSIT_SOURCE_INVALID = "deposit_source_invalid"
