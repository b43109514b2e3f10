package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/crossrank/crossrank/tokenizer"
)

func init() {
	register(&command{
		name:  "tokenize",
		short: "encode JSON lines of texts or (query, document) pairs into model token ids",
		run:   runTokenize,
	})
}

func runTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("tokenize", stderr)
	modelDir := fs.String("model", "", "model `folder` with tokenizer.json (or vocab.txt + tokenizer_config.json)")
	maxLength := fs.Int("max-length", 0, "most tokens per encoding, special tokens included (0: the tokenizer's model_max_length, none if it has none)")
	strategy := fs.String("truncation", "longest_first", "truncation `strategy`: longest_first, only_first, only_second or do_not_truncate")
	queryBudget := fs.Int("query-budget", 0, "most tokens the query keeps; the document gets the rest (0: none)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: crossrank tokenize --model DIR [--max-length N] [--truncation STRATEGY] < in.jsonl")
		fmt.Fprintln(stderr, "\nReads JSON lines {\"text\": ...} or {\"query\": ..., \"document\": ...} on stdin and writes,")
		fmt.Fprintln(stderr, "in input order, one line each: {\"input_ids\": [...], \"token_type_ids\": [...],")
		fmt.Fprintln(stderr, "\"attention_mask\": [...]}, the ids Hugging Face tokenizers gives with truncation=strategy")
		fmt.Fprintln(stderr, "and max_length. A line that cannot be encoded gives {\"error\": ...} and exit status 1.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *modelDir == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	strat, err := tokenizer.ParseStrategy(*strategy)
	if err != nil {
		fmt.Fprintln(stderr, "crossrank tokenize:", err)
		return 2
	}
	tok, err := tokenizer.Load(*modelDir)
	if err != nil {
		fmt.Fprintln(stderr, "crossrank tokenize:", err)
		return 1
	}
	opts := tokenizer.Truncation{MaxLength: *maxLength, Strategy: strat, QueryBudget: *queryBudget}
	if opts.MaxLength == 0 {
		opts.MaxLength = tok.ModelMaxLength()
	}
	in := bufio.NewReaderSize(stdin, 1<<20)
	out := bufio.NewWriterSize(stdout, 1<<20)
	defer out.Flush()
	status := 0
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		line, rerr := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			enc, err := tokenizeLine(tok, line, opts)
			buf = buf[:0]
			if err != nil {
				status = 1
				msg, _ := json.Marshal(fmt.Sprintf("line %d: %v", lineNo, err))
				buf = append(append(append(buf, `{"error":`...), msg...), "}\n"...)
			} else {
				buf = appendEncoding(buf, enc)
			}
			if _, err := out.Write(buf); err != nil {
				fmt.Fprintln(stderr, "crossrank tokenize:", err)
				return 1
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			fmt.Fprintln(stderr, "crossrank tokenize: reading stdin:", rerr)
			return 1
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "crossrank tokenize:", err)
		return 1
	}
	return status
}

// tokenizeLine encodes one input line: a text or a (query, document) pair.
func tokenizeLine(tok *tokenizer.Tokenizer, line []byte, opts tokenizer.Truncation) (*tokenizer.Encoding, error) {
	var in struct {
		Text     *string `json:"text"`
		Query    *string `json:"query"`
		Document *string `json:"document"`
	}
	if err := json.Unmarshal(line, &in); err != nil {
		return nil, fmt.Errorf("not a JSON object with text or query and document: %w", err)
	}
	switch {
	case in.Text != nil && in.Query == nil && in.Document == nil:
		return tok.EncodeTruncated(*in.Text, opts)
	case in.Text == nil && in.Query != nil && in.Document != nil:
		return tok.EncodePair(*in.Query, *in.Document, opts)
	}
	return nil, errors.New(`want {"text": ...} or {"query": ..., "document": ...}`)
}

func appendEncoding(b []byte, e *tokenizer.Encoding) []byte {
	b = append(b, `{"input_ids":`...)
	b = appendInts(b, e.IDs)
	b = append(b, `,"token_type_ids":`...)
	b = appendInts(b, e.TypeIDs)
	b = append(b, `,"attention_mask":`...)
	b = appendInts(b, e.AttentionMask)
	return append(b, "}\n"...)
}

func appendInts(b []byte, v []int32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}
