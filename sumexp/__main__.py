"""`python -m sumexp [overrides]`: compose the run config with Hydra and run the one task function."""
from __future__ import annotations

import logging
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
    from sumexp.task import run_experiment

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return run_experiment(cfg, run_dir)["dev_rouge_mean"]
    except UserError as err:
        from sumexp.backends.base import BackendUnsupported

        unsupported = isinstance(err, BackendUnsupported)  # a backend that cannot serve this model here
        write_failure(run_dir, str(err), stage="backend" if unsupported else "input",
                      status="unsupported" if unsupported else "failed")
        print(f"sumexp: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as err:  # a bug: keep the traceback, but leave a record in the run folder
        write_failure(run_dir, f"{type(err).__name__}: {err}", stage="run")
        raise


if __name__ == "__main__":
    main()
