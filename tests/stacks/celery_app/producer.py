"""Send N ``add`` tasks to the Celery app in ``tasks`` and print their results (N from argv, default 10)."""

from __future__ import annotations

import sys

from tasks import add

count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
results = [add.delay(i, i) for i in range(count)]
print("results", [result.get(timeout=30) for result in results])
