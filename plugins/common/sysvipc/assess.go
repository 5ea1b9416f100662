package sysvipc

import "slices"

// Assessment is the classifier's answer for one namespace, with the
// process census it was judged against (the faces report its orphans).
type Assessment struct {
	Arrays []Classification
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

// Assess takes a census under the FS and classifies the arrays. Without a
// single candidate it skips the census: most hosts have no Apache arrays,
// and a collector gathering every ten seconds should not read every
// process for nothing.
func (fs FS) Assess(arrays []SemArray, prober SemProber, pol Policy) (Assessment, error) {
	if !slices.ContainsFunc(arrays, func(a SemArray) bool { ok, _ := pol.Candidate(a); return ok }) {
		return Assessment{Arrays: classify(arrays, Census{}, prober, pol, fs.workers())}, nil
	}
	census, err := fs.ApacheCensus(pol.ApacheUIDs)
	if err != nil {
		return Assessment{}, err
	}
	return Assessment{Arrays: classify(arrays, census, prober, pol, fs.workers()), Census: census}, nil
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
