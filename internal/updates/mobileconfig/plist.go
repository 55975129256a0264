package mobileconfig

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// A tiny XML property list writer: keys keep the order given, strings are
// escaped, and only the types profiles use exist.

type kv struct {
	k string
	v any
}

type dict []kv

func indent(b *bytes.Buffer, n int) { b.WriteString(strings.Repeat("\t", n)) }

func write(b *bytes.Buffer, v any, depth int) error {
	indent(b, depth)
	switch t := v.(type) {
	case dict:
		b.WriteString("<dict>\n")
		for _, e := range t {
			indent(b, depth+1)
			b.WriteString("<key>")
			if err := xml.EscapeText(b, []byte(e.k)); err != nil {
				return err
			}
			b.WriteString("</key>\n")
			if err := write(b, e.v, depth+1); err != nil {
				return err
			}
		}
		indent(b, depth)
		b.WriteString("</dict>\n")
	case []any:
		b.WriteString("<array>\n")
		for _, e := range t {
			if err := write(b, e, depth+1); err != nil {
				return err
			}
		}
		indent(b, depth)
		b.WriteString("</array>\n")
	case string:
		b.WriteString("<string>")
		if err := xml.EscapeText(b, []byte(t)); err != nil {
			return err
		}
		b.WriteString("</string>\n")
	case int:
		fmt.Fprintf(b, "<integer>%d</integer>\n", t)
	case bool:
		if t {
			b.WriteString("<true/>\n")
		} else {
			b.WriteString("<false/>\n")
		}
	default:
		return fmt.Errorf("plist: unsupported %T", v)
	}
	return nil
}
