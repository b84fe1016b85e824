package app

import (
	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
)

type (
	configT  = config.Config
	secretT  = config.Secret
	serviceT = releaseops.Service
)
