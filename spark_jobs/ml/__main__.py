"""Train or score the lakehouse's models by hand (Airflow runs the same on its schedules):

``python -m spark_jobs.ml train churn|faults|all`` / ``python -m spark_jobs.ml score churn|faults|all``
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from core.session import shared_spark
from spark_jobs.ml import churn, faults


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["train", "score"])
    p.add_argument("model", choices=["churn", "faults", "all"])
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="churn scoring day (default: the newest)")
    args = p.parse_args(argv)
    with shared_spark("lakehouse-ml") as spark:
        if args.model in ("churn", "all"):
            churn.train(spark) if args.action == "train" else churn.score_day(spark, args.as_of)
        if args.model in ("faults", "all"):
            faults.train(spark) if args.action == "train" else faults.score_hours(spark)
    return 0


if __name__ == "__main__":
    sys.exit(main())
