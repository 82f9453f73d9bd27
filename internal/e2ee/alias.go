package e2ee

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxAlias is the longest alias in code points.
const MaxAlias = 32

// NormalizeAlias applies docs/protocol.md section 5.3: NFKC, control and
// format characters removed, white space collapsed and trimmed, at most 32
// code points. It may return "".
func NormalizeAlias(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) && !strings.ContainsRune("\t\n\v\f\r", r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if n >= MaxAlias {
			break
		}
		if space {
			if n+1 >= MaxAlias {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
