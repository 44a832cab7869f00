"""suitesync: SigmaMind AI chat-simulation test cases as code."""
