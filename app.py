#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` / ``cdk deploy`` (stage via ``-c stage=<name>``, see cdk.json)."""

from cdk.application import build_app

build_app().synth()
