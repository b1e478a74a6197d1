"""Training loops (IFDD, DICE-FER, face-ID pretraining), schedules, resumable state and logging."""
