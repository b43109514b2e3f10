// Command normdiff is a helper of gen_unicode.py: it reads what tokenizers'
// NFC, NFD, NFKC and NFKD normalizers made of probe strings (JSON on
// stdin) and prints the code points where golang.org/x/text/unicode/norm
// does something else (JSON on stdout). tokenizers normalises with an old
// Unicode (the unicode-normalization-alignments crate): characters it does
// not know are inert there (a starter that neither decomposes nor
// composes), while x/text gives them their Unicode 15 behaviour.
//
// Input: {"probes": {"<prefix>|<form>": {"<code point>": "<output>"}},
// "composites": {"<form>": {"<code point>": "<output for its NFD>"}}}
// where a probe is prefix + the character and only outputs that differ from
// the input are listed. Output: {"canonical": [...], "compat": [...]}.
package main

import (
	"encoding/json"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

func main() {
	var in struct {
		Probes     map[string]map[string]string `json:"probes"`
		Composites map[string]map[string]string `json:"composites"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		log.Fatal(err)
	}
	forms := map[string]norm.Form{"NFC": norm.NFC, "NFD": norm.NFD, "NFKC": norm.NFKC, "NFKD": norm.NFKD}
	canonical, compat := map[rune]bool{}, map[rune]bool{}
	add := func(form string, r rune) {
		compat[r] = true
		if form == "NFC" || form == "NFD" {
			canonical[r] = true
		}
	}
	for key, crate := range in.Probes {
		prefix, form, _ := strings.Cut(key, "|")
		f, ok := forms[form]
		if !ok {
			log.Fatalf("probe %q: unknown form", key)
		}
		for r := rune(1); r < 0x110000; r++ {
			if r >= 0xD800 && r <= 0xDFFF {
				continue
			}
			s := prefix + string(r)
			want, ok := crate[strconv.Itoa(int(r))]
			if !ok {
				want = s
			}
			if f.String(s) != want {
				add(form, r)
			}
		}
	}
	// Compositions x/text makes and tokenizers does not: every character
	// of the decomposition is unknown there.
	for form, m := range in.Composites {
		for k, out := range m {
			c, err := strconv.Atoi(k)
			if err != nil {
				log.Fatal(err)
			}
			d := norm.NFD.String(string(rune(c)))
			if out == forms[form].String(d) {
				continue
			}
			for _, r := range d {
				add(form, r)
			}
		}
	}
	res := map[string][]int{}
	for name, set := range map[string]map[rune]bool{"canonical": canonical, "compat": compat} {
		rs := []int{}
		for r := range set {
			rs = append(rs, int(r))
		}
		sort.Ints(rs)
		res[name] = rs
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		log.Fatal(err)
	}
}
