"""The base image of every component, resolved once when the components are defined."""

from samdops.cluster.images import component_image

COMPONENT_IMAGE = component_image()
