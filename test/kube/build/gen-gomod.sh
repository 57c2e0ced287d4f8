#!/usr/bin/env bash
# placeholder, replaced later
