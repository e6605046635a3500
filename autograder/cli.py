"""``nngrade``: the instructor's command line (verbs arrive with the grading issue)."""
import click


@click.group()
def main():
    """nngrade — grade the neural-network course's notebooks."""


if __name__ == "__main__":
    main()
