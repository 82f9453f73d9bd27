package client

import (
	"crypto/rand"
	"math/big"
)

var (
	adjectives = []string{"quiet", "brave", "calm", "swift", "gentle", "bright", "clever", "kind", "bold", "wise",
		"merry", "lucky", "noble", "proud", "shy", "warm", "keen", "fair", "glad", "sly"}
	animals = []string{"otter", "heron", "fox", "owl", "badger", "lynx", "wren", "seal", "hare", "crane",
		"robin", "moth", "newt", "finch", "stoat", "viper", "bison", "koala", "panda", "raven"}
)

func pick(words []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	return words[n.Int64()]
}

// RandomAlias returns a readable "adjective-animal" alias.
func RandomAlias() string { return pick(adjectives) + "-" + pick(animals) }
