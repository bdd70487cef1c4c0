"""Year-end batches: many units from one workbook or folder, on a local process pool or Ray, resumable, with a summary of what failed."""
