package mock

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// zstdEncoder is shared; EncodeAll is safe for concurrent use.
var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))

// compress returns b compressed with encoding, "gzip" or "zstd".
func compress(b []byte, encoding string) ([]byte, error) {
	switch encoding {
	case "zstd":
		return zstdEncoder.EncodeAll(b, nil), nil
	case "gzip":
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		if _, err := w.Write(b); err != nil {
			return nil, fmt.Errorf("cannot gzip %d bytes: %w", len(b), err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("cannot gzip %d bytes: %w", len(b), err)
		}
		return out.Bytes(), nil
	}
	return nil, fmt.Errorf("BUG: unknown encoding %q", encoding)
}
