package main

import "fmt"

// Goal is one of the overhead targets in DESIGN.md and how this run did.
type Goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // "pass", "fail" or "not measured"
}

// The overhead targets of DESIGN.md that this bench measures.
const (
	goalOverFloorP50   = 20.0  // µs at c=1
	goalOverFloorP99   = 60.0  // µs at c=1
	goalCPUVsFloor     = 1.5   // gateway CPU per request over the floor's, busy
	goalRate           = 10000 // requests per second on one core...
	goalRateP99        = 5000  // ...with p99 under this many µs
	goalStreamTTFTOver = 30.0  // µs added to time to first token over the floor
	goalCancelClose    = 50000 // µs from a client leaving to its upstream connection closing
	goalStreamKiB      = 64.0  // KiB of RSS per open, idle stream, at most; and at most the floor's
)

// checkGoals compares the rows of the gateway as shipped (billing on) in
// the pass-through scenarios with the targets of DESIGN.md. It returns
// nothing when that gateway was not measured.
func checkGoals(scenarios []Scenario) []Goal {
	var goals []Goal
	find := func(kind string, ok func(Scenario) bool) (gw, fl *Row) {
		for i := len(scenarios) - 1; i >= 0; i-- {
			s := scenarios[i]
			if s.Kind == kind && ok(s) {
				return findRow(s.Rows, targetGateway), findRow(s.Rows, targetFloor)
			}
		}
		return nil, nil
	}
	// The goals are the pass-through path's: the cross-format scenarios
	// add a translation the goals do not budget for, the feature
	// scenarios a feature.
	passThrough := func(s Scenario) bool { return s.CrossFormat == "" && s.Feature == "" }
	status := func(pass bool) string {
		if pass {
			return "pass"
		}
		return "fail"
	}
	notMeasured := func(goal, why string) {
		goals = append(goals, Goal{Goal: goal, Measured: why, Status: "not measured"})
	}

	measured := false
	for _, s := range scenarios {
		measured = measured || findRow(s.Rows, targetGateway) != nil
	}
	if !measured {
		return nil
	}

	const p50Goal, p99Goal = "c=1 over floor p50 ≤ +20 µs", "c=1 over floor p99 ≤ +60 µs"
	if gw, _ := find(kindLatency, passThrough); gw != nil && gw.OverFloor != nil {
		goals = append(goals,
			Goal{Goal: p50Goal, Measured: signed(&gw.OverFloor.P50) + " µs", Status: status(gw.OverFloor.P50 <= goalOverFloorP50)},
			Goal{Goal: p99Goal, Measured: signed(&gw.OverFloor.P99) + " µs", Status: status(gw.OverFloor.P99 <= goalOverFloorP99)})
	} else {
		notMeasured(p50Goal, "no c=1 run with floor and gateway")
		notMeasured(p99Goal, "no c=1 run with floor and gateway")
	}

	const cpuGoal = "CPU per request ≤ 1.5× the floor's, busy"
	if gw, fl := find(kindOpenLoop, passThrough); gw != nil && fl != nil && gw.CPUPerRequest != nil && fl.CPUPerRequest != nil && *fl.CPUPerRequest > 0 {
		ratio := *gw.CPUPerRequest / *fl.CPUPerRequest
		goals = append(goals, Goal{Goal: cpuGoal,
			Measured: fmt.Sprintf("%.1f vs %.1f µs (%.2f×) at the highest open-loop rate", *gw.CPUPerRequest, *fl.CPUPerRequest, ratio),
			Status:   status(ratio <= goalCPUVsFloor)})
	} else {
		notMeasured(cpuGoal, "no open-loop run with CPU times of floor and gateway")
	}

	const rateGoal = "≥ 10k req/s on one core with p99 < 5 ms"
	if gw, _ := find(kindOpenLoop, func(s Scenario) bool { return s.Rate >= goalRate }); gw != nil {
		pass := gw.Errors == 0 && gw.RPS >= 0.97*goalRate && gw.Latency.P99 < goalRateP99
		goals = append(goals, Goal{Goal: rateGoal,
			Measured: fmt.Sprintf("%.0f req/s, p99 %s µs, %d errors", gw.RPS, us(gw.Latency.P99), gw.Errors),
			Status:   status(pass)})
	} else {
		notMeasured(rateGoal, "no open-loop rate ≥ 10000 (add -rates 10000)")
	}

	const ttftGoal = "streaming TTFB over floor ≤ +30 µs (p50)"
	if gw, _ := find(kindStream, passThrough); gw != nil && gw.TTFBOverFloor != nil {
		goals = append(goals, Goal{Goal: ttftGoal, Measured: signed(&gw.TTFBOverFloor.P50) + " µs",
			Status: status(gw.TTFBOverFloor.P50 <= goalStreamTTFTOver)})
	} else {
		notMeasured(ttftGoal, "no streaming run with floor and gateway")
	}

	const cancelGoal = "a cancelled stream's upstream closed within 50 ms (p99)"
	var cancel *Row
	for _, s := range scenarios {
		if s.Kind == kindCancel {
			cancel = findRow(s.Rows, targetGateway)
		}
	}
	if cancel != nil && cancel.Requests+cancel.Errors > 0 {
		goals = append(goals, Goal{Goal: cancelGoal,
			Measured: fmt.Sprintf("p50 %s / p99 %s µs, %d of %d streams", us(cancel.Latency.P50), us(cancel.Latency.P99), cancel.Requests, cancel.Requests+cancel.Errors),
			Status:   status(cancel.Errors == 0 && cancel.Latency.P99 <= goalCancelClose)})
	} else {
		notMeasured(cancelGoal, "no cancel run")
	}

	const memoryGoal = "memory per open stream ≤ the floor's and ≤ 64 KiB"
	var memory *Scenario
	for i := range scenarios {
		if scenarios[i].Kind == kindMemory && scenarios[i].Memory != nil {
			memory = &scenarios[i]
		}
	}
	if gw, fl := memoryFigures(memory, targetGateway), memoryFigures(memory, targetFloor); gw != nil && fl != nil {
		all := gw.Open == memory.Memory.Streams && fl.Open == memory.Memory.Streams
		goals = append(goals, Goal{Goal: memoryGoal,
			Measured: fmt.Sprintf("%.1f vs the floor's %.1f KiB, %d and %d of %d streams open", gw.KiBPerStream, fl.KiBPerStream, gw.Open, fl.Open, memory.Memory.Streams),
			Status:   status(all && gw.KiBPerStream <= fl.KiBPerStream && gw.KiBPerStream <= goalStreamKiB)})
	} else {
		notMeasured(memoryGoal, "no memory run with floor and gateway")
	}

	const chaosGoal = "chaos route: 100% of calls succeed (issue 5)"
	var chaos *Chaos
	for _, s := range scenarios {
		if s.Kind == kindChaos && s.Chaos != nil {
			chaos = s.Chaos
		}
	}
	if chaos != nil && chaos.Calls > 0 {
		goals = append(goals, Goal{Goal: chaosGoal,
			Measured: fmt.Sprintf("%s of %d calls, p99 %s µs over plain", successRate(chaos.Successes, chaos.Calls), chaos.Calls, signed(&chaos.Added.P99)),
			Status:   status(chaos.Successes == chaos.Calls)})
	} else {
		notMeasured(chaosGoal, "no chaos run")
	}
	return goals
}

// memoryFigures returns target's figures in the memory scenario s, or nil
// if s is nil or the target held no stream open.
func memoryFigures(s *Scenario, target string) *MemoryFigures {
	if s == nil {
		return nil
	}
	for i, f := range s.Memory.Targets {
		if f.Target == target && f.Open > 0 {
			return &s.Memory.Targets[i]
		}
	}
	return nil
}
