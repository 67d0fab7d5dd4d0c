-- Gluon v2023.2.x image customization of a babel site with the
-- gluon-464xlat feed (files/docs/site.md, "Selecting the packages").
-- Gluon evaluates this file once per device; only the functions its docs
-- list are available (features, packages, target, device, device_class, ...).

features {
	'autoupdater',
	'mesh-babel',
	'respondd',
	'status-page',
	'web-advanced',
	'web-wizard',
}

-- The feed's Go binary builds only where the packages feed has Go
-- (lang/golang/golang-values.mk, GO_ARCH_DEPENDS). Of the targets Gluon
-- v2023.2 builds, mpc85xx (p1010, p1020: 32-bit powerpc) has none; selecting
-- the packages there stops the build ("unable to enable package").
if not target('mpc85xx') then
	packages {
		'gluon-464xlat-clat',
		'gluon-464xlat-plat',
		'gluon-l3roamd-xlat',
	}
end
