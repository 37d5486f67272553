"""The built-in reward catalog: each module is a thin policy over a verifier, registered by name in
`registry.yaml`. The contract they implement (Sample, Score, @reward) lives in `rewardforge.core`."""
