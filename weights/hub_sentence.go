package weights

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// What a sentence-transformers bi-encoder needs beyond a transformers model:
// its top-level files, and in each module folder modules.json names the
// config.json and safetensors weights (never pickles, ONNX or OpenVINO files).
var stTopFiles = []string{ModulesFile, STConfigFile, SentenceBertConfig}

// fetchSentenceTransformer fetches the sentence-transformers files of a
// repo that lists modules.json.
func (h *hubClient) fetchSentenceTransformer(ctx context.Context, commit string, files map[string]bool) error {
	for _, f := range stTopFiles {
		if files[f] {
			if err := h.fetch(ctx, commit, f); err != nil {
				return err
			}
		}
	}
	raw, err := readSmall(filepath.Join(h.repoDir, "snapshots", commit, ModulesFile))
	if err != nil {
		return fmt.Errorf("weights: %s: %w", h.ref, err)
	}
	folders, err := moduleFolders(raw)
	if err != nil {
		return fmt.Errorf("weights: %s: %s: %w", h.ref, ModulesFile, err)
	}
	for _, f := range moduleFiles(folders, files) {
		if err := h.fetch(ctx, commit, f); err != nil {
			return err
		}
	}
	return nil
}

// moduleFiles are the repo files a module folder needs: its config.json and
// its .safetensors weights, directly inside the folder. Sorted.
func moduleFiles(folders []string, files map[string]bool) []string {
	var out []string
	for f := range files {
		dir, base := path.Split(f)
		dir = strings.TrimSuffix(dir, "/")
		for _, m := range folders {
			if dir == strings.TrimSuffix(m, "/") && (base == ConfigFile || strings.HasSuffix(base, ".safetensors")) {
				out = append(out, f)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// missingSentenceFiles lists what a folder with modules.json lacks: each
// Pooling and Dense module's config.json, and a Dense module's weights.
func missingSentenceFiles(dir string) []string {
	raw, err := readSmall(filepath.Join(dir, ModulesFile))
	if err != nil {
		return nil // no modules.json: a plain transformers model
	}
	mods, err := ParseModules(raw)
	if err != nil {
		return []string{ModulesFile + " (unreadable)"}
	}
	var missing []string
	for _, m := range mods {
		need := map[string][]string{"Pooling": {ConfigFile}, "Dense": {ConfigFile, SafetensorsFile}}[m.Kind()]
		for _, f := range need {
			p := path.Join(m.Path, f)
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
				missing = append(missing, p)
			}
		}
	}
	return missing
}
