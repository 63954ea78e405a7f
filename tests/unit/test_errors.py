"""sumexp/errors.py: the one way a message's first line is taken, and the CLI wrapper's exit codes."""

from __future__ import annotations

from sumexp.errors import UserError, first_line, run_cli


def test_first_line_is_the_first_line_with_text_or_the_exception_type():
    assert first_line(OSError("\n  disk full  \nerrno 28")) == "disk full"
    assert first_line(ValueError("")) == "ValueError"  # str(err).splitlines()[0] would raise IndexError here
    assert first_line(KeyError()) == "KeyError"
    assert first_line("one\ntwo") == "one" and first_line("") == ""


def test_a_cli_action_maps_a_user_error_to_one_line_and_exit_2(capsys):
    def refuse():
        raise UserError("data.dir=x: folder not found; pass an existing folder")

    assert run_cli(refuse, prog="python -m sumexp.score") == 2
    assert (
        capsys.readouterr().err
        == "python -m sumexp.score: error: data.dir=x: folder not found; pass an existing folder\n"
    )
    assert run_cli(lambda: None) == 0
