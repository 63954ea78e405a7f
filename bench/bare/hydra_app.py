"""A bare Hydra app: the start-up baseline of bench/bench_startup.py.

It composes the config it is given with --config-path (sumexp's own conf/ files without the typed
schema and the secret-redacting callback, copied by the benchmark) and prints one value, so that
`--cfg job` and `--help` cost what Hydra alone costs on the same YAML.
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path=None, config_name="config")
def main(cfg: DictConfig) -> None:
    print(cfg.model.name)


if __name__ == "__main__":
    main()
