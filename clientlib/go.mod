module github.com/ringd/ringd/clientlib

go 1.22
