package app

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/moonpost/moonpost/core/classify"
	"github.com/moonpost/moonpost/core/dsn"
)

// classifyCmd is "moonpost classify [-c file] REPLY... | - | --defaults":
// the bounce class the configured rules give each reply ("550 5.1.1
// text", one per argument, or one per line of stdin for "-"), with the
// rule that decided; --defaults prints the shipped rules, to start a
// rules file from. It is the daemon's own classifier (config.BounceRules).
func classifyCmd(args []string) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	defaults := fs.Bool("defaults", false, "print the shipped rules")
	if err := fs.Parse(args); err != nil {
		return exUsage
	}
	if *defaults {
		os.Stdout.Write(classify.DefaultText())
		return exOK
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: moonpost classify [-c file] REPLY... | - | --defaults")
		return exUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	rules, err := cfg.BounceRules()
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost: bounce.classifier_rules:", err)
		return exConfig
	}
	code := exOK
	for _, a := range fs.Args() {
		if a == "-" {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				code = max(code, explainReply(os.Stdout, rules, sc.Text()))
			}
			continue
		}
		code = max(code, explainReply(os.Stdout, rules, a))
	}
	return code
}

// explainReply prints "CLASS<TAB>WHY<TAB>REPLY" for one reply.
func explainReply(w io.Writer, rules *classify.Rules, reply string) int {
	st, ok := dsn.Parse(reply)
	if !ok {
		fmt.Fprintf(os.Stderr, "moonpost: %q: not a reply (want CODE [ENHANCED] TEXT)\n", reply)
		return exDataErr
	}
	class, rule := rules.Explain(st)
	why := "no rule: the class of every unmatched " + strconv.Itoa(st.Code/100) + "xx"
	switch {
	case class == "":
		class, why = "-", "a success has no class"
	case rule != nil:
		why = rule.File + ":" + strconv.Itoa(rule.Line)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\n", class, why, st.Error())
	return exOK
}
