package app

import (
	"github.com/moonpost/moonpost/core/classify"
	"github.com/moonpost/moonpost/core/config"
)

// Every reload applies the [bounce] keys and reads the rules file again
// (reloader.Reload).
func init() {
	liveTop["bounce.classifier_rules"] = true
	liveTop["bounce.classifier_defaults"] = true
}

// bounceClassifier holds the bounce classification rules of cfg
// ([bounce]); a reload swaps new ones in (reloader.Reload).
func bounceClassifier(cfg *config.Config) (*classify.Classifier, error) {
	rules, err := cfg.BounceRules()
	if err != nil {
		return nil, err
	}
	return classify.New(rules), nil
}
