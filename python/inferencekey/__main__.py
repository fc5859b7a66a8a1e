"""``python -m inferencekey``: the same CLI as the ``inferencekey`` console script."""

from inferencekey.cli import main

if __name__ == "__main__":
    main()
