package sysvipc

import "slices"

// Assessment is the classifier's answer for one namespace, with the
// process census it was judged against (the faces report its orphans).
type Assessment struct {
	// Arrays are the classifications; nil from AssessLiveCounts.
	Arrays []Classification
	Tally  Tally
	Census Census
}

// Stale returns the stale arrays.
func (a Assessment) Stale() []Classification {
	var out []Classification
	for _, c := range a.Arrays {
		if c.Verdict == Stale {
			out = append(out, c)
		}
	}
	return out
}

// Assess takes a census under the FS and classifies the arrays.
func (fs FS) Assess(arrays []SemArray, prober SemProber, pol Policy) (Assessment, error) {
	census, err := fs.censusFor(arrays, pol)
	if err != nil {
		return Assessment{}, err
	}
	cs := classify(arrays, census, prober, pol, fs.workers())
	var t tallying
	for i := range cs {
		t.add(cs[i])
	}
	return Assessment{Arrays: cs, Tally: t.done(), Census: census}, nil
}

// assessCounts is Assess keeping only the counts, for a face that prints
// no array: at 32,000 arrays it needs no memory per array.
func (fs FS) assessCounts(arrays []SemArray, prober SemProber, pol Policy) (Assessment, error) {
	census, err := fs.censusFor(arrays, pol)
	if err != nil {
		return Assessment{}, err
	}
	return Assessment{Tally: tally(arrays, census, prober, pol, fs.workers()), Census: census}, nil
}

// AssessLiveCounts lists the live arrays and counts their verdicts, the
// way a check that prints counts wants them fastest: each candidate is
// probed right after it is listed, and the census is taken after the
// probes. That order is also the safer one: every process that could
// have made a probed last operation started before the census, so a last
// pid the census lacks is dead, not merely born after it. On a fixture
// tree, an older kernel or a mostly free index table it lists first and
// assesses after (assessCounts).
func (fs FS) AssessLiveCounts(pol Policy) (Assessment, error) {
	_, a, err := fs.listAndCount(pol)
	return a, err
}

// listAndCount is AssessLiveCounts with the arrays it listed.
func (fs FS) listAndCount(pol Policy) ([]SemArray, Assessment, error) {
	cand := func(a SemArray) bool { ok, _ := pol.Candidate(a); return ok }
	if fs.live {
		arrays, probes, err := kernelSemProbed(fs.workers(), cand)
		if err == nil {
			census, err := fs.censusFor(arrays, pol)
			if err != nil {
				return nil, Assessment{}, err
			}
			return arrays, Assessment{Tally: tallyProbed(arrays, probes, census, pol, fs.workers()), Census: census}, nil
		}
	}
	arrays, err := fs.LiveSemArrays()
	if err != nil {
		return nil, Assessment{}, err
	}
	a, err := fs.assessCounts(arrays, fs.Prober(), pol)
	return arrays, a, err
}

// censusFor takes the census the arrays are judged against. Without a
// single candidate it skips it: most hosts have no Apache arrays, and a
// collector gathering every ten seconds should not read every process
// for nothing.
func (fs FS) censusFor(arrays []SemArray, pol Policy) (Census, error) {
	if !slices.ContainsFunc(arrays, func(a SemArray) bool { ok, _ := pol.Candidate(a); return ok }) {
		return Census{}, nil
	}
	return fs.ApacheCensus(pol.ApacheUIDs)
}

// NamespaceCensus is the census of the processes that share the reader's
// IPC namespace: only they can use its arrays.
func (fs FS) NamespaceCensus() (Census, error) {
	census, err := fs.Census()
	if err != nil {
		return Census{}, err
	}
	// thread-self: inside InNamespace only this thread is in the namespace
	// being judged. A fixture tree has no such link, and no namespaces.
	if own, err := fs.IPCNamespace("thread-self"); err == nil {
		census = census.InNamespace(own)
	}
	return census, nil
}
