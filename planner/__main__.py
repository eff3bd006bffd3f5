from planner.cli import main

if __name__ == "__main__":  # a guard: Dask and spawn-started workers import this module
    main()
