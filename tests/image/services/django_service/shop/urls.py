"""URL configuration for shop."""

from django.urls import path

from shop import views

urlpatterns = [
    path("healthz", views.healthz),
    path("orders/", views.orders),
]
