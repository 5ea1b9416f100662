package soak

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// The soak's knobs, from the environment (make soak sets them):
// IPCWATCH_SOAK_SEED replays one seed's schedule, IPCWATCH_SOAK_DURATION
// sets how long each seed runs.
const (
	envSeed     = "IPCWATCH_SOAK_SEED"
	envDuration = "IPCWATCH_SOAK_DURATION"
)

// fixedSeed is the seed every short soak runs first.
const fixedSeed = 1

// shortDuration is each seed's run in make test.
const shortDuration = 60 * time.Second

// soakSeeds are the seeds to run: the one IPCWATCH_SOAK_SEED names, or
// the fixed seed and one drawn now.
func soakSeeds() ([]int64, error) {
	if v := os.Getenv(envSeed); v != "" {
		seed, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", envSeed, v, err)
		}
		return []int64{seed}, nil
	}
	return []int64{fixedSeed, time.Now().UnixNano() % 1_000_000_000}, nil
}

// soakDuration is IPCWATCH_SOAK_DURATION, or the short run.
func soakDuration() (time.Duration, error) {
	v := os.Getenv(envDuration)
	if v == "" {
		return shortDuration, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 30m", envDuration, v)
	}
	return d, nil
}

// replayLine says how to run one seed's schedule again.
func replayLine(seed int64, d time.Duration) string {
	return fmt.Sprintf("replay: make soak SEED=%d DURATION=%s", seed, d)
}
