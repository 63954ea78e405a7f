"""`python -m sumexp [overrides]`: compose the run config with Hydra and run the one task function."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from sumexp.errors import UserError
from sumexp.schema import register_configs

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("sumexp")

register_configs()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from sumexp.results.files import write_failure
    from sumexp.security.secrets import redact
    from sumexp.task import run_experiment

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return run_experiment(cfg, run_dir)["dev_rouge_mean"]
    except UserError as err:
        write_failure(run_dir, redact(str(err)), stage="input")
        print(f"sumexp: error: {redact(str(err))}", file=sys.stderr)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":  # debugging: the traceback too
            raise
        raise SystemExit(2) from None
    except Exception as err:  # a bug: keep the traceback, but leave a record in the run folder
        write_failure(run_dir, redact(f"{type(err).__name__}: {err}"), stage="run")
        raise


if __name__ == "__main__":
    main()
