package rerank

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Rank agreement of the reduced-precision CPU paths (Options.Precision)
// with sentence-transformers' fp32 ranking of the fixture queries: the
// top-1 document of each query and Kendall's tau over its documents.
// bert's lowp_test.go bounds the logit error itself.

// rankAgreement compares the scores of one query's documents with the
// fp32 reference scores: whether the top document is one of the
// reference's best (within tie, the reference's own near-ties count as
// the same place), and Kendall's tau over the pairs of documents the
// reference orders (pairs it ties within tie are left out; a pair tied
// here counts as neither concordant nor discordant).
func rankAgreement(got, ref []float64, tie float64) (top1 bool, tau float64) {
	best, bestRef := 0, 0
	for i := range got {
		if got[i] > got[best] {
			best = i
		}
		if ref[i] > ref[bestRef] {
			bestRef = i
		}
	}
	top1 = ref[best] >= ref[bestRef]-tie
	var conc, disc, n float64
	for i := range got {
		for j := i + 1; j < len(got); j++ {
			dr := ref[i] - ref[j]
			if math.Abs(dr) <= tie {
				continue
			}
			n++
			switch dg := got[i] - got[j]; {
			case dg*dr > 0:
				conc++
			case dg*dr < 0:
				disc++
			}
		}
	}
	if n == 0 {
		return top1, 1
	}
	return top1, (conc - disc) / n
}

func TestRankAgreementLowPrecision(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		prec    string
		minTop1 float64 // the targets
		minTau  float64 // the mean over queries; bound set from the measured value
	}{{"bf16", 0.98, 0.97}, {"int8", 0.95, 0.90}} {
		for _, name := range fixtureModels {
			t.Run(tc.prec+"/"+name, func(t *testing.T) {
				if _, err := os.Stat(fixtureDir(name)); err != nil {
					t.Fatalf("committed fixture model missing: %v", err)
				}
				r, err := New(ctx, fixtureDir(name), Options{Precision: tc.prec, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				info := r.Info()
				if strings.Contains(info.Device, "fp32:") {
					t.Skipf("no fast %s kernel on this CPU: %s", tc.prec, info.Device)
				}
				if info.Precision != tc.prec || !strings.HasPrefix(info.Device, "cpu ("+tc.prec) {
					t.Errorf("Info: Device %q, Precision %q; want %s", info.Device, info.Precision, tc.prec)
				}
				recs := rankGolden(t, name)
				top1, sumTau, minTau, moved := 0, 0.0, 1.0, 0.0
				for qi, rec := range recs {
					pairs := make([]Pair, len(rec.Documents))
					for i, d := range rec.Documents {
						pairs[i] = Pair{rec.Query, d}
					}
					scored, err := r.Score(ctx, pairs)
					if err != nil {
						t.Fatal(err)
					}
					got := make([]float64, len(scored))
					for i, s := range scored {
						got[i] = s.Score
						moved = max(moved, math.Abs(s.Score-rec.Scores[i]))
					}
					ok, tau := rankAgreement(got, rec.Scores, 1e-5)
					if ok {
						top1++
					} else {
						t.Logf("query %d: top-1 differs from fp32", qi)
					}
					sumTau += tau
					minTau = min(minTau, tau)
				}
				frac, meanTau := float64(top1)/float64(len(recs)), sumTau/float64(len(recs))
				t.Logf("%s %s (%s): %d queries x %d documents: top-1 agreement %d/%d (%.1f%%), Kendall tau mean %.4f min %.4f",
					tc.prec, name, info.Device, len(recs), len(recs[0].Documents), top1, len(recs), 100*frac, meanTau, minTau)
				// Reduced precision that really ran moves some score well past
				// fp32's agreement with sentence-transformers (<= 1e-5,
				// TestRankMatchesSentenceTransformers); scores that close
				// everywhere mean fp32 ran under a bf16/int8 name.
				if moved < 1e-4 {
					t.Errorf("%s %s: every score within %.2g of fp32's: the %s kernels did not run", tc.prec, name, moved, tc.prec)
				}
				if frac < tc.minTop1 || meanTau < tc.minTau {
					t.Errorf("%s %s: top-1 agreement %.3f (want >= %g), mean tau %.4f (want >= %g)", tc.prec, name, frac, tc.minTop1, meanTau, tc.minTau)
				}
			})
		}
	}
}

func TestRankAgreementTau(t *testing.T) {
	ref := []float64{0.9, 0.5, 0.1, 0.1}
	if top1, tau := rankAgreement([]float64{3, 2, 1, 0}, ref, 1e-6); !top1 || tau != 1 {
		t.Errorf("same order: top1 %v tau %v; want true, 1", top1, tau)
	}
	if top1, tau := rankAgreement([]float64{0, 1, 2, 3}, ref, 1e-6); top1 || tau != -1 {
		t.Errorf("reversed: top1 %v tau %v; want false, -1", top1, tau)
	}
	// one swap of five ordered pairs: (4-1)/5
	if _, tau := rankAgreement([]float64{2, 3, 1, 0}, ref, 1e-6); math.Abs(tau-0.6) > 1e-12 {
		t.Errorf("one swap: tau %v, want 0.6", tau)
	}
}

// TestRealRankLowPrecision is TestRealRank in bf16 and int8: the real
// MiniLM cross-encoder's order of rerank/testdata/real-rank.jsonl against
// sentence-transformers' fp32 order (make test-real).
func TestRealRankLowPrecision(t *testing.T) {
	dir := os.Getenv("CROSSRANK_REAL")
	if dir == "" {
		t.Skip("CROSSRANK_REAL not set (make test-real)")
	}
	type record struct {
		Query     string
		Documents []string
		Rank      []struct {
			CorpusID int `json:"corpus_id"`
			Score    float64
		}
	}
	rec := readJSONL[record](t, filepath.Join("testdata", "real-rank.jsonl"))[0]
	ref := make([]float64, len(rec.Documents))
	for _, x := range rec.Rank {
		ref[x.CorpusID] = x.Score
	}
	pairs := make([]Pair, len(rec.Documents))
	for i, d := range rec.Documents {
		pairs[i] = Pair{rec.Query, d}
	}
	for _, prec := range []string{"bf16", "int8"} {
		t.Run(prec, func(t *testing.T) {
			r, err := New(context.Background(), filepath.Join(dir, "minilm-cross"), Options{Precision: prec, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			info := r.Info()
			if strings.Contains(info.Device, "fp32:") {
				t.Skipf("no fast %s kernel on this CPU, so fp32 would run: %s", prec, info.Device)
			}
			if info.Precision != prec || !strings.HasPrefix(info.Device, "cpu ("+prec) {
				t.Fatalf("Info: Device %q, Precision %q; want %s", info.Device, info.Precision, prec)
			}
			scored, err := r.Score(context.Background(), pairs)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float64, len(scored))
			worst := 0.0
			for i, s := range scored {
				got[i] = s.Score
				worst = max(worst, math.Abs(s.Score-ref[i]))
			}
			top1, tau := rankAgreement(got, ref, 1e-5)
			t.Logf("real MiniLM %s (%s): %d documents, top-1 same %v, Kendall tau %.4f, largest score difference %.3g",
				prec, r.Info().Device, len(got), top1, tau, worst)
			if worst < 1e-4 { // fp32 is within 1e-5 of sentence-transformers (TestRealRank)
				t.Errorf("real MiniLM %s: every score within %.2g of fp32's: the %s kernels did not run", prec, worst, prec)
			}
			if !top1 || tau < 0.9 {
				t.Errorf("real MiniLM %s: top-1 same %v, tau %.4f (want >= 0.9)", prec, top1, tau)
			}
		})
	}
}
