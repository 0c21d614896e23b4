"""Django's own messages that its zh_Hans catalog lacks, so they reach OUR catalog.

Never imported at run time: ``makemessages`` only needs to see these calls. Each msgid is
copied exactly from Django (5.2), so our translation replaces the English one Django shows.
Checked under zh-hans: of the password validators only MinimumLengthValidator's error
(changed to ``%d`` in Django 5.x) is untranslated; the others come from Django's catalog.
"""

from django.utils.translation import ngettext_lazy

# django/contrib/auth/password_validation.py, MinimumLengthValidator.get_error_message
PASSWORD_TOO_SHORT = ngettext_lazy(
    "This password is too short. It must contain at least %d character.",
    "This password is too short. It must contain at least %d characters.",
    8,
)
