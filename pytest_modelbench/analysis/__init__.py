"""Analysis over outcomes: the leaderboard aggregates every report reads (pure, no pytest)."""
