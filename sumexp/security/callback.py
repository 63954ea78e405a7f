"""A Hydra callback that keeps secrets out of the run folder (listed under hydra.callbacks in conf/config.yaml).

Secrets on the command line never reach Hydra (sumexp/security/overrides.py). This is for those that come
another way: a secret-named key from a config file, an environment variable's value. Hydra writes
.hydra/config.yaml, hydra.yaml and overrides.yaml (and a sweep's multirun.yaml) before the task runs;
`on_job_start` runs after those files exist and after logging is set up: it rewrites them redacted and
filters the logs. `on_job_end` redacts the overrides Hydra prints when a job fails.
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sumexp.security.secrets import filter_log_handlers, find_secrets, redact, redact_tree, remember


class RedactSecrets(Callback):
    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        remember(find_secrets(_plain(config)))
        filter_log_handlers()
        hydra = config.hydra
        if hydra.output_subdir is not None:
            for path in sorted((Path(hydra.runtime.output_dir) / hydra.output_subdir).glob("*.yaml")):
                redact_yaml_file(path)
        if hydra.mode == RunMode.MULTIRUN:
            redact_yaml_file(Path(hydra.sweep.dir) / "multirun.yaml")

    def on_job_end(self, config: DictConfig, job_return=None, **kwargs) -> None:
        """Hydra prints a failed job's overrides to stderr ("Error executing job with overrides: [...]"),
        on the terminal or in a SLURM job's log; the JobReturn is redacted before anything prints it."""
        remember(find_secrets(_plain(config)))
        if job_return is not None and job_return.overrides:
            job_return.overrides = [redact(str(override)) for override in job_return.overrides]

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        remember(find_secrets(_plain(config)))
        redact_yaml_file(Path(config.hydra.sweep.dir) / "multirun.yaml")


def redact_yaml_file(path: Path) -> None:
    """Rewrite a YAML file Hydra saved with every secret removed; untouched when there is none."""
    if not path.is_file():
        return
    original = OmegaConf.load(path)
    clean = redact_tree(OmegaConf.to_container(original, resolve=False))
    if clean != OmegaConf.to_container(original, resolve=False):
        from sumexp.results.files import write_atomic  # imports pandas: only when there is a secret to remove

        write_atomic(path, OmegaConf.to_yaml(OmegaConf.create(clean)))


def _plain(config: DictConfig) -> dict:
    """The config as plain values, interpolations resolved where they can be (${oc.env:...} included)."""
    try:
        return OmegaConf.to_container(config, resolve=True)
    except OmegaConfBaseException:  # an interpolation that only resolves later (e.g. in a sweep): scan it unresolved
        return OmegaConf.to_container(config, resolve=False)
