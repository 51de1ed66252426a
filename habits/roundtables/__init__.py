"""The round-table habit: a cross-functional debrief per channel, its form, reminders, agenda and notes."""
