"""The elephant-in-the-room habit: weekly anonymous polls, their schedule, reminders and results."""
