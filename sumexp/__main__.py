"""`python -m sumexp [overrides]`: compose the run config with Hydra and run the one task function."""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from sumexp.errors import RunInterrupted, UserError
from sumexp.schema import register_configs

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("sumexp")

register_configs()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from sumexp.backends.base import BackendUnsupported
    from sumexp.results.files import write_failure
    from sumexp.security.secrets import redact
    from sumexp.task import run_experiment

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return run_experiment(cfg, run_dir)["dev_rouge_mean"]
    except RunInterrupted as err:  # a checkpoint was saved: resume=true continues from it
        write_failure(run_dir, str(err), stage="train", status="interrupted")
        _say(f"sumexp: {err}")
        raise SystemExit(128 + signal.Signals[err.signal_name].value) from None
    except KeyboardInterrupt:  # Ctrl-C outside training, where no checkpoint is due
        write_failure(run_dir, "interrupted by SIGINT before any checkpoint", stage="run", status="interrupted")
        raise SystemExit(128 + signal.SIGINT.value) from None
    except UserError as err:
        unsupported = isinstance(err, BackendUnsupported)  # a backend that cannot serve this model here
        write_failure(run_dir, redact(str(err)), stage=err.stage, status="unsupported" if unsupported else "failed")
        _say(f"sumexp: error: {redact(str(err))}")
        if os.environ.get("HYDRA_FULL_ERROR") == "1":  # debugging: the traceback too
            raise
        raise SystemExit(2) from None
    except Exception as err:  # a bug: keep the traceback, but leave a record in the run folder
        write_failure(run_dir, redact(f"{type(err).__name__}: {err}"), stage="run")
        raise


def _say(line: str) -> None:
    """One line on stderr, on a line of its own even when a progress bar was cut off mid-line."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
    print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
