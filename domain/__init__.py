"""Pure rules shared by the API and the worker (schedules, time); no I/O of their own."""
