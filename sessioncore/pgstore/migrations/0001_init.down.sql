DROP TABLE IF EXISTS session_commands;
DROP TABLE IF EXISTS sessions;
