"""Training the particle model: dataset writing (masks → YOLO-seg polygons, fixed EMPS split,
synthetic + augmented real mix) and a resumable, fully offline ultralytics run."""
