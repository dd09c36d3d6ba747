"""Rule families; importing this package registers every rule (see ``registry``).

One module per family. A new rule is a decorated function in one of them; a
new family is a new module added to the import list below.
"""

from . import (  # noqa: F401  (imported for their registrations)
    adsl,
    adtte,
    ae,
    dates,
    death,
    generic,
    oncology,
    schema,
    subjects,
    suppqual,
)
