package app

import (
	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/storage"
)

type (
	configT  = config.Config
	secretT  = config.Secret
	serviceT = releaseops.Service
)

func storageFilter(source, typ string) storage.DeliveryFilter {
	return storage.DeliveryFilter{Source: source, Type: typ}
}
