"""Tests of modelport.aws under moto: deploy, plan, template, units."""
